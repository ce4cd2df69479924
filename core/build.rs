//! Rebuilds the crate when a migration is added, since `sqlx::migrate!`
//! embeds the `migrations/` directories at compile time (one per store
//! backend: `migrations/sqlite/`, and PostgreSQL's beside it).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
