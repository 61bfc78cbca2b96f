"""`callflow report`: the migration's success criteria, computed from the call records.

`figures` computes (pure), `source` reads the records, `charts` + `page` draw the HTML page,
`command` is the CLI.
"""
