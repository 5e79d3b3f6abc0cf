//! Shell completions and man pages, generated from a binary's own command-line definition
//! (igos and pkm share it), so they never drift from `--help`.

/// The completion script of `root` (named `bin`) for `shell`.
pub fn completions(mut root: clap::Command, bin: &str, shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut root, bin, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page (roff) of `root` (named `bin`): `bin`(1), or `bin-COMMAND`(1) for one of its
/// commands. An unknown command is an error naming the ones there are.
pub fn man_page(root: clap::Command, bin: &str, command: Option<&str>) -> Result<String, String> {
    let page = match command {
        None => root,
        Some(name) => match root.find_subcommand(name) {
            // One page per run: leaking the name clap wants as 'static is fine.
            Some(c) => {
                let full: &'static str = Box::leak(format!("{bin}-{}", c.get_name()).into_boxed_str());
                c.clone().name(full).bin_name(full)
            }
            None => {
                let names: Vec<String> = root.get_subcommands().map(|c| c.get_name().to_string()).collect();
                return Err(format!("{bin} man: no command `{name}`; one of: {}", names.join(", ")));
            }
        },
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out).map_err(|e| format!("{bin} man: {e}"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
