from ocsrun.cli import main

main()
