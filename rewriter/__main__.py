from rewriter.cli.main import main

main()
