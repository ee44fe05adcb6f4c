//! Prints the CRDs of the Hive resources hive-scale models, as YAML.
fn main() {
    print!("{}", hive_scale_core::api::crds_yaml());
}
