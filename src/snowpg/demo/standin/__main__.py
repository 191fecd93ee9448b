from snowpg.demo.standin.server import main

main()
