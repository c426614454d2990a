from rocky_engine.cli import main

main()
