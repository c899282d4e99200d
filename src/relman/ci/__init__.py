"""Build executors (local processes, Buildbot workers) and the Buildbot REST client."""
