//! `skiff image import|ls|rm|host`: the node's local image store from the shell.
//! Pulling from registries is not supported yet; images arrive as archives.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use skiff_agent::image::{import_with_progress, render_image_table, ImageStore};

#[derive(Args)]
pub struct ImageArgs {
    /// The data directory whose `images/` holds the store (as for `skiff server`).
    #[arg(long, default_value = "/var/lib/skiff", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Import a `docker save` archive or an OCI image-layout tarball.
    Import {
        /// The archive to import.
        file: PathBuf,
        /// Another name for the image, e.g. `crossoverjie/k8s-combat:v1`.
        #[arg(long)]
        tag: Option<String>,
    },
    /// List the images.
    Ls,
    /// Remove an image by name, id or digest.
    Rm {
        /// The image to remove.
        reference: String,
    },
    /// Declare an image whose root filesystem is this node's own `/`, mounted
    /// read-only, for running host binaries.
    Host {
        /// The name pods use for it.
        name: String,
    },
}

/// Runs one image command, printing what it did.
pub fn run(args: ImageArgs) -> Result<(), Box<dyn std::error::Error>> {
    let store = ImageStore::open(&args.data_dir.join("images"))?;
    match args.command {
        ImageCommand::Import { file, tag } => {
            for image in import_with_progress(&store, &file, tag.as_deref())? {
                println!("imported {} {}", image.id, image.repo_tags.join(" "));
            }
        }
        ImageCommand::Ls => print!("{}", render_image_table(&store.list()?, chrono::Utc::now())),
        ImageCommand::Rm { reference } => {
            let removal = store.remove(&reference)?;
            for tag in removal.untagged {
                println!("untagged {tag}");
            }
            if let Some(id) = removal.deleted {
                println!("deleted {id}");
            }
        }
        ImageCommand::Host { name } => {
            let image = store.import_host(&name)?;
            println!(
                "declared {} as this node's root filesystem, read-only ({})",
                name, image.id
            );
        }
    }
    Ok(())
}
