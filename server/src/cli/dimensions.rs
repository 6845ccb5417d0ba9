//! `dimensions`: the metadata keys declared as dimensions (docs/dimensions.md).

use clap::Subcommand;

use super::{fmt_ms, AnyError, CLI};
use crate::{admin, Store};

#[derive(Subcommand)]
pub enum DimensionCmd {
    /// The declared metadata keys.
    List,
    /// Declare a metadata key (e.g. `team`) as a dimension; at most 10.
    Add { key: String },
    /// Stop treating a metadata key as a dimension.
    Remove { key: String },
}

/// `dimensions list|add|remove`.
pub async fn dimensions(store: &Store, cmd: DimensionCmd) -> Result<(), AnyError> {
    match cmd {
        DimensionCmd::List => {
            println!("key\tdeclared\tby");
            for d in store.declared_dimensions().await? {
                println!("{}\t{}\t{}", d.key, fmt_ms(d.declared_at_ms), d.declared_by);
            }
        }
        DimensionCmd::Add { key } => {
            admin::declare_dimension(store, CLI, &key).await?;
            println!("metadata key {key:?} declared as a dimension");
        }
        DimensionCmd::Remove { key } => {
            admin::remove_dimension(store, CLI, &key).await?;
            println!("metadata key {key:?} is no longer a dimension");
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum EndUserCmd {
    /// Erase an end user's id from every stored event (it becomes "(erased)"; their numbers
    /// stay in every total), also where it was stored hashed.
    Erase { id: String },
    /// The hash an end user's id is stored as with UA_HASH_END_USERS=1 (to find them).
    Hash { id: String },
}

/// `end-users erase|hash`.
pub async fn end_users(store: &Store, cmd: EndUserCmd) -> Result<(), AnyError> {
    match cmd {
        EndUserCmd::Erase { id } => {
            let n = admin::erase_end_user(store, CLI, &id).await?;
            println!("erased from {n} events");
        }
        EndUserCmd::Hash { id } => match store.stored_end_user_hash_key().await? {
            Some(key) => println!("{}", crate::ingest::dimensions::hash_end_user(&key, &id)),
            None => println!("end users' ids were never hashed here (UA_HASH_END_USERS is off)"),
        },
    }
    Ok(())
}
