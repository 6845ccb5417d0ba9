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
