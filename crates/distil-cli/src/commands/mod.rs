//! One module per subcommand.

mod env;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Env => env::run(&cli.global),
    }
}
