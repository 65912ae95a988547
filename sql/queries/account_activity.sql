-- account_activity: one account's conversations across the warehouse, by day and policy area.
-- params: $account_id (text pseudonym, acct_…)
SELECT f.date, f.policy_area, f.task, count(*) AS conversations, max(f.concern) AS peak_concern
FROM facets f
WHERE f.account_id = $account_id
GROUP BY f.date, f.policy_area, f.task
ORDER BY f.date, conversations DESC;
