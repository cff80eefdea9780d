"""The durable job queue: tables, states and their transitions, claims and leases, workers, the janitor and
the wake-up signals. It knows no app, feature or surface; job kinds register with it."""
