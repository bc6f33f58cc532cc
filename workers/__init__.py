"""ARQ workers: persist orders and issue tickets, sweep expired holds, drain change logs."""
