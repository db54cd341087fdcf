"""Portail Cabinet: the internal management portal of a French accounting firm."""

import warnings

# advanced-alchemy 1.12 still decorates its mixins with SQLAlchemy 2.1's deprecated
# declarative_mixin (sqlalchemy/sqlalchemy#12346): harmless, and it would drown the
# terminal of every `portal` command. The test suite filters it the same way.
warnings.filterwarnings("ignore", message="The declarative_mixin decorator", category=DeprecationWarning)
