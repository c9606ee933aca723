"""Background loops: the inbox worker, delivery, the scheduler and its leader lock."""
