"""Running a study: the world it sees, the runner, executors (local, process pool, Ray), shards, merge and
the SQLite store. Imports the contract and the domain (spaces, benchmarks, data, supernets), never report/ or track/."""
