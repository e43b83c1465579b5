"""Operations: the KV record, its transitions (compare-and-set), submit, and the event aggregator."""
