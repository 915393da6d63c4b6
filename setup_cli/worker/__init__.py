"""The long-running SQS worker (`loader-worker`, `loader-admin worker`): the Lambda's handler
fed from SQS by a process, for ECS, Kubernetes or any host (docs/worker.md).

cli.py the command line; loop.py the threads and the loop; sqs.py the only code that talks to
SQS; decisions.py the pure rules (what to delete, what to extend, when to stop)."""
