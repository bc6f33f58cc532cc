"""boxoffice domain: the rules of selling tickets, independent of HTTP and job queues."""
