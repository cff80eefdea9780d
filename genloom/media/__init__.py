"""Stored media: image probing, thumbnails, asset rows and the routes that serve them."""
