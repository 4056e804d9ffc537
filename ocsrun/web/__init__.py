"""`ocsrun serve`: a read-only web view of runs, over the store protocol and the run views.

Above run/ and store/ (see docs/architecture.md): pages and JSON are made from what
`ocsrun.run.views` returns, the same data `ocsrun runs ...` prints. Starlette and uvicorn
(the `ocsrun[web]` extra) are imported only here.
"""
