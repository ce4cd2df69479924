//! Where the store lives. Only SQLite exists today; a PostgreSQL URL is
//! refused with a clear message rather than half-working.

use std::fmt;
use std::str::FromStr;

/// A validated store location (`sqlite://switchboard.db`, `sqlite::memory:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadStoreUrl {
    #[error(
        "PostgreSQL store is not available yet; use sqlite://... (for example sqlite://switchboard.db)"
    )]
    PostgresNotAvailable,
    #[error(
        "{0:?} is not a store URL: expected sqlite://PATH (for example sqlite://switchboard.db)"
    )]
    Unknown(String),
    #[error("an in-memory store would lose accepted events on restart; use a file: sqlite://PATH")]
    InMemory,
}

impl FromStr for StoreUrl {
    type Err = BadStoreUrl;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Err(BadStoreUrl::PostgresNotAvailable)
        } else if s.contains(":memory:") || s.contains("mode=memory") {
            Err(BadStoreUrl::InMemory)
        } else if s.starts_with("sqlite:") && s.len() > "sqlite:".len() && s != "sqlite://" {
            Ok(StoreUrl::Sqlite(s.to_string()))
        } else {
            Err(BadStoreUrl::Unknown(s.to_string()))
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(url) => f.write_str(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_accepted() {
        for url in [
            "sqlite://switchboard.db",
            "sqlite:///var/lib/switchboard/db.sqlite",
            "sqlite:inbox.db",
        ] {
            assert_eq!(url.parse(), Ok(StoreUrl::Sqlite(url.to_string())), "{url}");
        }
    }

    #[test]
    fn an_in_memory_store_is_refused() {
        assert_eq!(
            "sqlite::memory:".parse::<StoreUrl>(),
            Err(BadStoreUrl::InMemory)
        );
    }

    #[test]
    fn postgres_is_refused_with_a_clear_message() {
        let err = "postgres://user:pw@db/switchboard"
            .parse::<StoreUrl>()
            .expect_err("refused");
        assert_eq!(err, BadStoreUrl::PostgresNotAvailable);
        assert!(
            err.to_string()
                .contains("PostgreSQL store is not available yet; use sqlite://")
        );
        assert!(
            !err.to_string().contains("pw"),
            "the URL's password is not repeated"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(matches!(
            "mysql://db".parse::<StoreUrl>(),
            Err(BadStoreUrl::Unknown(_))
        ));
        assert!(matches!(
            "sqlite://".parse::<StoreUrl>(),
            Err(BadStoreUrl::Unknown(_))
        ));
        assert!(matches!(
            "switchboard.db".parse::<StoreUrl>(),
            Err(BadStoreUrl::Unknown(_))
        ));
    }
}
