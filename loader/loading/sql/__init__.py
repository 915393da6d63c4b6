"""The SQL text of a load, pure: the transaction script (script.py), the in-target ledger and
fence (ledger.py), a Redshift target's COPY script (redshift_script.py), the load history the
loaded-vs-staged check reads (load_history.py) and the rejected rows (load_errors.py)."""
