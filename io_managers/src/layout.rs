//! Where an object goes: `<key components>/[partition=<key>/]<data version>.<ext>`.
//!
//! The Hive-style `partition=` directory makes the stored tree of a partitioned asset a
//! partitioned dataset that DataFusion, DuckDB or pyarrow read directly. Naming objects by
//! their content hash means the same value is stored once, and a name never points to
//! different content.

use object_store::path::Path;
use stemma::{AssetKey, DataVersion, PartitionKey};

/// The layout version, part of the path so a future layout never collides with this one.
const LAYOUT: &str = "v1";

/// Where every object of this layout lives (relative to the store's root and `prefix`).
pub fn layout_root(prefix: &Path) -> Path {
    let mut parts: Vec<String> = prefix.parts().map(|p| p.as_ref().to_owned()).collect();
    parts.push(LAYOUT.to_owned());
    Path::from_iter(parts)
}

/// The object path of a value (relative to the store's root and `prefix`).
pub fn object_path(
    prefix: &Path,
    asset: &AssetKey,
    partition: Option<&PartitionKey>,
    data_version: &DataVersion,
    extension: &str,
) -> Path {
    let mut parts: Vec<String> = prefix.parts().map(|p| p.as_ref().to_owned()).collect();
    parts.push(LAYOUT.to_owned());
    parts.extend(asset.components().map(str::to_owned));
    if let Some(p) = partition {
        parts.push(format!("partition={p}"));
    }
    parts.push(format!("{}.{extension}", data_version.as_str()));
    Path::from_iter(parts)
}

/// Where the manifest of an asset's current objects goes: `current/<key components>.json`,
/// outside the layout (garbage collection never takes it for an object).
pub fn manifest_path(prefix: &Path, asset: &AssetKey) -> Path {
    let mut parts: Vec<String> = prefix.parts().map(|p| p.as_ref().to_owned()).collect();
    parts.push("current".to_owned());
    let components: Vec<&str> = asset.components().collect();
    let (last, dirs) = components.split_last().expect("a key has a component");
    parts.extend(dirs.iter().map(|c| (*c).to_owned()));
    parts.push(format!("{last}.json"));
    Path::from_iter(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_key_and_partition() {
        let dv = DataVersion::from_hex("ab12");
        let key = AssetKey::parse("raw/documents").unwrap();
        let p = object_path(&Path::default(), &key, None, &dv, "parquet");
        assert_eq!(p.as_ref(), "v1/raw/documents/ab12.parquet");
        let part = PartitionKey::new("2026-11-21").unwrap();
        let p = object_path(&Path::from("lake"), &key, Some(&part), &dv, "json");
        assert_eq!(
            p.as_ref(),
            "lake/v1/raw/documents/partition=2026-11-21/ab12.json"
        );
        assert_eq!(
            manifest_path(&Path::from("lake"), &key).as_ref(),
            "lake/current/raw/documents.json"
        );
    }
}
