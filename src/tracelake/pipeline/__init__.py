"""Pipeline: log objects → normalised, validated Arrow batches of the lake's tables.

Pure functions over batches, no I/O: ``normalise`` maps fields, ``timestamps`` parses
times, ``batches`` assembles Arrow record batches and ``jobs`` bundles decode + pipeline
into one call that can run in a worker process.
"""
