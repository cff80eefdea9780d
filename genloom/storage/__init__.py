"""Media bytes: the BlobStore protocol, local disk and S3 stores, keys, signed URLs."""

from genloom.storage.base import BlobStat, BlobStore
from genloom.storage.factory import create_blob_store

__all__ = ["BlobStat", "BlobStore", "create_blob_store"]
