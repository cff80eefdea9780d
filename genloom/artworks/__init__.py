"""Artworks: a child's drawing with its recording, uploads into the key layout
``clients/{clientId}/artworks/{artworkId}/{type}/v{n}/file.{ext}``, the gallery, and the generation flow
(recording → transcript → story → animated video) as one durable job."""
