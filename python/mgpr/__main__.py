from mgpr import main

main()
