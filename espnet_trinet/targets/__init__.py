"""Target sources: where the objectives' targets come from (EMA teacher, frozen ASR teacher, dumped labels)."""
