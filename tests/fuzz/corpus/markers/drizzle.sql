CREATE TABLE a (id int);
--> statement-breakpoint
CREATE TABLE b (id int);
