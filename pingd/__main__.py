from pingd.cli.main import main

raise SystemExit(main())
