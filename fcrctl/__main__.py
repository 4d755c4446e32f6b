from fcrctl.cli.main import run

run()
