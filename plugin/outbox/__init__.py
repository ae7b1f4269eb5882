"""Events out: what certhook tells the merchant's own tools, signed as Standard Webhooks has it.

record.py writes an event into the outbox in the transaction of the change it tells; send.py
is the job that POSTs it to its endpoint until it is delivered or given up; manage.py is what
the dashboard, the metrics and the CLI read and do.
"""
