//! Empty: the benchmarks are in benches/micro.rs.
