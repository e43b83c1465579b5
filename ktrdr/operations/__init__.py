"""Operations: the kind table and parameter structs, the KV record and its fencing, every transition, cancellation, submit, the aggregator."""
