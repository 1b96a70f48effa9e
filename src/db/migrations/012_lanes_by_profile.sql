-- A claim finds its lanes by model profile. Without an index it read all of job_lanes
-- (100 queues x 20 owners: 2,100 rows, 0.55 ms of a 1.3 ms heads statement in the
-- scale scenario, scripts/bench/README.md) to keep the 105 of one profile; the index
-- hands them over in (model_profile, owner_service) order, which is also the order
-- of the owner lanes' DISTINCT, and covers task_type for the queue-mode filters.
CREATE INDEX job_lanes_profile_idx ON job_lanes (model_profile, owner_service, task_type);
