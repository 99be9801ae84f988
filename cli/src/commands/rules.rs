//! `specgate rules [CODE]`: every rule in a table, or one rule's documentation.

use specgate_compiler::lint::registry;

use super::Outcome;

pub fn run(rule: Option<&str>) -> Outcome {
    match rule {
        None => {
            println!("{:<6}  {:<34}  {:<8}  SUMMARY", "CODE", "NAME", "SEVERITY");
            for r in registry::RULES {
                let m = r.meta();
                println!(
                    "{:<6}  {:<34}  {:<8}  {}",
                    m.code,
                    m.name,
                    m.severity.to_string(),
                    m.summary
                );
            }
            Outcome::Success
        }
        Some(code) => match registry::documentation(code) {
            Some(docs) => {
                let meta = registry::RULES
                    .iter()
                    .map(|r| r.meta())
                    .find(|m| m.code.eq_ignore_ascii_case(code) || m.name == code);
                if let Some(m) = meta {
                    println!(
                        "# {} {} ({})\n\n{}\n",
                        m.code, m.name, m.severity, m.summary
                    );
                }
                println!("{docs}");
                Outcome::Success
            }
            None => {
                eprintln!("error: no rule is called `{code}`; `specgate rules` lists them");
                Outcome::Failure
            }
        },
    }
}
