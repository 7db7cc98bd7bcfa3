from pingd.cli import main

raise SystemExit(main())
