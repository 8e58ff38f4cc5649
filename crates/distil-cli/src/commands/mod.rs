//! One module per subcommand.

pub mod bench;
pub mod distill;
pub mod encode;
mod env;
pub mod eval;
pub mod export;
pub mod fill_mask;
pub mod finetune;
pub mod fit_head;
pub mod init_student;
pub mod inspect;
pub mod prep;
pub mod reproduce;
pub mod vocab;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Env => env::run(&cli.global),
        Command::Vocab(args) => vocab::run(&args),
        Command::Prep(args) => prep::run(&cli.global, &args),
        Command::Bench(command) => bench::run(&cli.global, &command),
        Command::Inspect(args) => inspect::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Distill(args) => distill::run(&cli.global, &args),
        Command::InitStudent(args) => init_student::run(&args),
        Command::FitHead(args) => fit_head::run(&cli.global, &args),
        Command::FillMask(args) => fill_mask::run(&cli.global, &args),
        Command::Encode(args) => encode::run(&cli.global, &args),
        Command::Finetune(command) => finetune::run(&cli.global, &command),
        Command::Eval(command) => eval::run(&cli.global, &command),
        Command::Reproduce(args) => reproduce::run(&cli.global, &args),
    }
}
