-- shared_infrastructure: accounts outside a campaign that used the same network prefixes as
-- its members, with how many conversations came through them.
-- params: $campaign_id (text), $date (date of the nightly run)
WITH member_accounts AS (
  SELECT DISTINCT account_id FROM campaign_members WHERE campaign_id = $campaign_id AND date = $date
),
prefixes AS (
  SELECT DISTINCT c.ip_prefix
  FROM conversations c JOIN member_accounts a ON a.account_id = c.account_id
  WHERE c.ip_prefix IS NOT NULL
)
SELECT c.account_id, c.ip_prefix, count(*) AS conversations
FROM conversations c
JOIN prefixes p ON p.ip_prefix = c.ip_prefix
WHERE c.account_id NOT IN (SELECT account_id FROM member_accounts)
GROUP BY c.account_id, c.ip_prefix
ORDER BY conversations DESC, c.account_id
LIMIT 500;
