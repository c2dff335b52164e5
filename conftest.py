# Shared fixtures (tenants alpha/beta with users of every role, operator, clients) for every test folder.
pytest_plugins = ["tests.fixtures", "tests.parallel"]
