from gpucheck.cli import main

raise SystemExit(main())
