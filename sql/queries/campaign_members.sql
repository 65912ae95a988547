-- campaign_members: who is in a campaign, and how active each member account was in it.
-- params: $campaign_id (text), $date (date of the nightly run)
SELECT account_id, count(*) AS conversations, min(created_at) AS first_seen, max(created_at) AS last_seen
FROM campaign_members
WHERE campaign_id = $campaign_id AND date = $date
GROUP BY account_id
ORDER BY conversations DESC, account_id;
