"""The background jobs: the queue in the database, the one retry decision, the worker."""
