"""The web app served by `relman serve`: the downloads site and its API, the release status
dashboard and the runs. Thin: it parses requests, calls the libraries, renders templates."""
