from bench.purge import main

main()
