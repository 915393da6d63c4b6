"""Local mode (`loader-admin local`, `make demo`): the whole loader on one machine, embedded AWS
(moto) and PostgreSQL behind the Redshift stand-in, run by the production worker (docs/local.md).

cli.py the commands; stack.py provisions what the SAM stack would; env.py the environment of a
running stack; samples.py the sample feeds; display.py what the terminal shows."""
