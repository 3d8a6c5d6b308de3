"""The audit service: folds the event stream into the hash-chained event store and projections."""
