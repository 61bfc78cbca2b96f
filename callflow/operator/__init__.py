"""The operator's view of calls: visibility queries over the call search attributes."""
