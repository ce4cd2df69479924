//! The SQLite side of leases on jobs (`job_leases`): one row per lease,
//! taken in one statement so that two instances asking at once cannot both
//! get it (the group-commit writer runs them one after the other anyway).

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use super::super::group_commit::Writer;
use super::super::{JobLease, StoreError, parse_timestamp, timestamp};

pub(super) async fn take(
    writer: &Writer,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (name, holder) = (name.to_string(), holder.to_string());
    writer
        .write(move |connection| {
            Box::pin(async move {
                // The upsert's WHERE leaves a live lease of another holder
                // alone, and then nothing is returned.
                let taken = sqlx::query(
                    "INSERT INTO job_leases (name, holder, until, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE
                     SET holder = excluded.holder, until = excluded.until,
                         updated_at = excluded.updated_at
                     WHERE job_leases.until <= ?4 OR job_leases.holder = excluded.holder
                     RETURNING holder",
                )
                .bind(name)
                .bind(holder)
                .bind(timestamp(until))
                .bind(timestamp(now))
                .fetch_optional(&mut *connection)
                .await?;
                Ok(taken.is_some())
            })
        })
        .await
}

pub(super) async fn release(writer: &Writer, name: &str, holder: &str) -> Result<(), StoreError> {
    let (name, holder) = (name.to_string(), holder.to_string());
    writer
        .write(move |connection| {
            Box::pin(async move {
                sqlx::query("DELETE FROM job_leases WHERE name = ?1 AND holder = ?2")
                    .bind(name)
                    .bind(holder)
                    .execute(&mut *connection)
                    .await?;
                Ok(())
            })
        })
        .await
}

pub(super) async fn live(
    readers: &SqlitePool,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<Vec<JobLease>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, holder, until FROM job_leases
         WHERE substr(name, 1, length(?1)) = ?1 AND until > ?2
         ORDER BY name",
    )
    .bind(prefix)
    .bind(timestamp(now))
    .fetch_all(readers)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(JobLease {
                name: row.try_get("name")?,
                holder: row.try_get("holder")?,
                until: parse_timestamp(&row.try_get::<String, _>("until")?)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::super::SqliteStore;
    use crate::store::Store;

    async fn store(dir: &tempfile::TempDir) -> SqliteStore {
        let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
        SqliteStore::open(&url).await.expect("store opens")
    }

    #[tokio::test]
    async fn one_holder_at_a_time_until_the_lease_expires_or_is_given_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(&dir).await;
        let now = chrono::Utc::now();
        let until = now + Duration::seconds(60);
        assert!(
            store
                .take_lease("job", "a", now, until)
                .await
                .expect("take")
        );
        assert!(
            !store
                .take_lease("job", "b", now, until)
                .await
                .expect("take"),
            "a live lease of another holder is not taken"
        );
        assert!(
            store
                .take_lease("job", "a", now, now + Duration::seconds(90))
                .await
                .expect("renew"),
            "its holder renews it"
        );
        let later = now + Duration::seconds(91);
        assert!(
            store
                .take_lease("job", "b", later, later + Duration::seconds(60))
                .await
                .expect("take"),
            "an expired lease goes to whoever asks"
        );
        store.release_lease("job", "a").await.expect("release");
        assert!(
            !store
                .take_lease("job", "a", later, later + Duration::seconds(1))
                .await
                .expect("take"),
            "only its holder gives a lease up"
        );
        store.release_lease("job", "b").await.expect("release");
        assert!(
            store
                .take_lease("job", "a", later, later)
                .await
                .expect("take")
        );
    }

    #[tokio::test]
    async fn live_leases_by_prefix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(&dir).await;
        let now = chrono::Utc::now();
        for (name, seconds) in [("instance/1", 30), ("instance/2", -1), ("other", 30)] {
            let until = now + Duration::seconds(seconds);
            let taken = store
                .take_lease(name, "h", now - Duration::seconds(5), until)
                .await
                .expect("take");
            assert!(taken, "{name}");
        }
        let live = store.live_leases("instance/", now).await.expect("live");
        let names: Vec<&str> = live.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["instance/1"],
            "expired and other leases are left out"
        );
        assert_eq!(live[0].holder, "h");
    }
}
