//! What the analysis sees in a code location: each asset's and check's code version and the
//! items (and crates) it covers, and how long the analysis took.
//!
//! ```text
//! cargo run -p stemma-build --example analyze -- assets
//! ```

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: analyze CRATE_DIR");
        return std::process::ExitCode::from(2);
    };
    let started = std::time::Instant::now();
    let analysis = match stemma_build::analyze(std::path::Path::new(&dir)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let elapsed = started.elapsed();
    for root in &analysis.roots {
        println!(
            "{} {} ({} items)",
            root.kind,
            root.function,
            root.items.len()
        );
        println!("  code version {}", root.code_version);
        for (label, hash) in &root.items {
            println!("  {label}  {hash}");
        }
    }
    let lines: usize = analysis
        .files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|t| t.lines().count())
        .sum();
    eprintln!(
        "{} roots, {} files, {lines} lines analysed in {:.1} ms",
        analysis.roots.len(),
        analysis.files.len(),
        elapsed.as_secs_f64() * 1000.0
    );
    std::process::ExitCode::SUCCESS
}
